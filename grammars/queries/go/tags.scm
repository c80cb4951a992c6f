; moecode tags for Go (tree-sitter-go 0.23.4). See lsp/workspace/tags.h.
; A declaration with a single spec is the definition node (its signature starts at "type",
; "const", "var"); inside a group, the spec is.

(package_clause (package_identifier) @name) @definition.module

; ---- functions and methods (the receiver's type is the container) ----
(function_declaration name: (identifier) @name) @definition.function
(method_declaration
  receiver: (parameter_list
    (parameter_declaration type: [
      (type_identifier) @container
      (pointer_type (type_identifier) @container)
      (generic_type type: (type_identifier) @container)
      (pointer_type (generic_type type: (type_identifier) @container))]))
  name: (field_identifier) @name) @definition.method
(method_elem name: (field_identifier) @name) @definition.method

; ---- types ----
(type_declaration . (type_spec name: (type_identifier) @name type: (struct_type)) .) @definition.struct
(type_declaration . (type_spec name: (type_identifier) @name type: (interface_type)) .) @definition.interface
(type_declaration . [(type_spec name: (type_identifier) @name) (type_alias name: (type_identifier) @name)] .) @definition.type
(type_spec name: (type_identifier) @name type: (struct_type)) @definition.struct
(type_spec name: (type_identifier) @name type: (interface_type)) @definition.interface
(type_spec name: (type_identifier) @name) @definition.type
(type_alias name: (type_identifier) @name) @definition.type

; ---- constants and package-level variables ----
(const_declaration . (const_spec name: (identifier) @name) .) @definition.constant
(const_spec name: (identifier) @name) @definition.constant
(source_file (var_declaration . (var_spec name: (identifier) @name) .) @definition.variable)
(source_file (var_declaration (var_spec name: (identifier) @name) @definition.variable))

; ---- references ----
(call_expression
  function: [
    (identifier) @name
    (selector_expression field: (field_identifier) @name)
    (parenthesized_expression (identifier) @name)
    (generic_type type: (type_identifier) @name)
  ]) @reference.call
((type_identifier) @name @reference.type
  (#not-any-of? @name "bool" "byte" "complex64" "complex128" "error" "float32" "float64" "int" "int8"
    "int16" "int32" "int64" "rune" "string" "uint" "uint8" "uint16" "uint32" "uint64" "uintptr" "any"))

; ---- imports ----
(import_spec path: (interpreted_string_literal) @import.module) @import
