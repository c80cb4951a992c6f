; moecode tags for C++ (tree-sitter-cpp 0.23.4). See lsp/workspace/tags.h for the captures.
; Earlier patterns win when two define the same name node. Members defined or declared
; inside a class body become methods through their container.

; ---- out-of-line members: void Shape::area() { ... } ----
(function_definition
  declarator: [
    (function_declarator declarator: (qualified_identifier scope: (_) @container name: [(identifier) (field_identifier) (operator_name)] @name))
    (pointer_declarator declarator: (function_declarator declarator: (qualified_identifier scope: (_) @container name: [(identifier) (field_identifier) (operator_name)] @name)))
    (reference_declarator (function_declarator declarator: (qualified_identifier scope: (_) @container name: [(identifier) (field_identifier) (operator_name)] @name)))
  ]) @definition.method

; ---- functions and in-class methods ----
(function_definition
  declarator: [
    (function_declarator declarator: [(identifier) (field_identifier) (operator_name)] @name)
    (pointer_declarator declarator: (function_declarator declarator: [(identifier) (field_identifier) (operator_name)] @name))
    (reference_declarator (function_declarator declarator: [(identifier) (field_identifier) (operator_name)] @name))
  ]) @definition.function

; Declarations: prototypes at namespace scope, member functions declared in a class.
(translation_unit (declaration declarator: [
      (function_declarator declarator: [(identifier) (field_identifier) (operator_name)] @name)
      (pointer_declarator declarator: (function_declarator declarator: [(identifier) (field_identifier) (operator_name)] @name))
      (reference_declarator (function_declarator declarator: [(identifier) (field_identifier) (operator_name)] @name))
    ]) @definition.function)
(declaration_list (declaration declarator: [
      (function_declarator declarator: [(identifier) (field_identifier) (operator_name)] @name)
      (pointer_declarator declarator: (function_declarator declarator: [(identifier) (field_identifier) (operator_name)] @name))
      (reference_declarator (function_declarator declarator: [(identifier) (field_identifier) (operator_name)] @name))
    ]) @definition.function)
(field_declaration_list (declaration declarator: [
      (function_declarator declarator: [(identifier) (field_identifier) (operator_name)] @name)
      (pointer_declarator declarator: (function_declarator declarator: [(identifier) (field_identifier) (operator_name)] @name))
      (reference_declarator (function_declarator declarator: [(identifier) (field_identifier) (operator_name)] @name))
    ]) @definition.function)
(field_declaration_list (field_declaration declarator: [
      (function_declarator declarator: [(identifier) (field_identifier) (operator_name)] @name)
      (pointer_declarator declarator: (function_declarator declarator: [(identifier) (field_identifier) (operator_name)] @name))
      (reference_declarator (function_declarator declarator: [(identifier) (field_identifier) (operator_name)] @name))
    ]) @definition.function)
(template_declaration
  (declaration
    declarator: (function_declarator declarator: [(identifier) (field_identifier)] @name)) @definition.function)

; ---- types ----
(class_specifier name: (type_identifier) @name body: (field_declaration_list)) @definition.class
(struct_specifier name: (type_identifier) @name body: (field_declaration_list)) @definition.struct
(union_specifier name: (type_identifier) @name body: (field_declaration_list)) @definition.struct
(enum_specifier name: (type_identifier) @name body: (enumerator_list)) @definition.enum
(enumerator name: (identifier) @name) @definition.constant
(alias_declaration name: (type_identifier) @name) @definition.type
(type_definition
  declarator: [
    (type_identifier) @name
    (pointer_declarator declarator: (type_identifier) @name)
  ]) @definition.type
(namespace_definition name: [(namespace_identifier) (nested_namespace_specifier)] @name) @definition.module

; ---- macros ----
(preproc_def name: (identifier) @name) @definition.macro
(preproc_function_def name: (identifier) @name) @definition.macro

; ---- namespace-scope constants and variables ----
(translation_unit
  (declaration
    (type_qualifier) @_q
    declarator: (init_declarator declarator: (identifier) @name)) @definition.constant
  (#any-of? @_q "const" "constexpr" "constinit"))
(declaration_list
  (declaration
    (type_qualifier) @_q
    declarator: (init_declarator declarator: (identifier) @name)) @definition.constant
  (#any-of? @_q "const" "constexpr" "constinit"))
(translation_unit (declaration declarator: [
      (identifier) @name
      (init_declarator declarator: (identifier) @name)
      (pointer_declarator declarator: (identifier) @name)
      (init_declarator declarator: (pointer_declarator declarator: (identifier) @name))
    ]) @definition.variable)
(declaration_list (declaration declarator: [
      (identifier) @name
      (init_declarator declarator: (identifier) @name)
      (pointer_declarator declarator: (identifier) @name)
      (init_declarator declarator: (pointer_declarator declarator: (identifier) @name))
    ]) @definition.variable)

; ---- references ----
(call_expression
  function: [
    (identifier) @name
    (field_expression field: (field_identifier) @name)
    (qualified_identifier name: (identifier) @name)
    (qualified_identifier name: (qualified_identifier name: (identifier) @name))
    (template_function name: (identifier) @name)
    (qualified_identifier name: (template_function name: (identifier) @name))
    (field_expression field: (template_method name: (field_identifier) @name))
  ]) @reference.call
(new_expression type: [(type_identifier) @name (qualified_identifier name: (type_identifier) @name)]) @reference.class
(type_identifier) @name @reference.type

; ---- imports ----
(preproc_include path: [(string_literal) (system_lib_string)] @import.module) @import
