; moecode tags for Python (tree-sitter-python 0.23.6). See lsp/workspace/tags.h.
; Functions inside a class become methods through their container.

(class_definition name: (identifier) @name) @definition.class
(function_definition name: (identifier) @name) @definition.function

; Module-level names: UPPER_CASE ones are constants, the others variables.
(module
  (expression_statement
    (assignment left: (identifier) @name) @definition.constant)
  (#match? @name "^[A-Z_][A-Z0-9_]*$"))
(module
  (expression_statement
    (assignment left: (identifier) @name) @definition.variable))

; ---- references ----
(call function: (identifier) @name) @reference.call
(call function: (attribute attribute: (identifier) @name)) @reference.call
(class_definition superclasses: (argument_list (identifier) @name @reference.type))
(class_definition superclasses: (argument_list (attribute attribute: (identifier) @name) @reference.type))
(type (identifier) @name) @reference.type
(type (attribute attribute: (identifier) @name)) @reference.type
(type (generic_type (identifier) @name)) @reference.type
(type (subscript value: (identifier) @name)) @reference.type

; ---- imports ----
(import_statement name: (dotted_name) @import.module) @import
(import_statement name: (aliased_import name: (dotted_name) @import.module)) @import
(import_from_statement
  module_name: (_) @import.module
  name: [(dotted_name) @import.name (aliased_import name: (dotted_name) @import.name)]) @import
(import_from_statement module_name: (_) @import.module (wildcard_import)) @import
