; moecode tags for TypeScript (tree-sitter-typescript 0.23.2, typescript/). TSX uses this
; file too, followed by queries/tsx/tags.scm (JSX). See lsp/workspace/tags.h.

; ---- classes, interfaces, types ----
(class_declaration name: (type_identifier) @name) @definition.class
(abstract_class_declaration name: (type_identifier) @name) @definition.class
(class name: (type_identifier) @name) @definition.class
(interface_declaration name: (type_identifier) @name) @definition.interface
(type_alias_declaration name: (type_identifier) @name) @definition.type
(enum_declaration name: (identifier) @name) @definition.enum
(internal_module name: [(identifier) (nested_identifier) (string)] @name) @definition.module
(module name: [(identifier) (nested_identifier) (string)] @name) @definition.module

; ---- methods ----
(method_definition name: [(property_identifier) (private_property_identifier)] @name) @definition.method
(method_signature name: [(property_identifier) (private_property_identifier)] @name) @definition.method
(abstract_method_signature name: [(property_identifier) (private_property_identifier)] @name) @definition.method
(pair key: (property_identifier) @name value: [(arrow_function) (function_expression)]) @definition.method

; ---- functions ----
(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(function_signature name: (identifier) @name) @definition.function
(lexical_declaration
  (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression) (generator_function)])) @definition.function
(variable_declaration
  (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression) (generator_function)])) @definition.function
(assignment_expression
  left: [(identifier) @name (member_expression property: (property_identifier) @name)]
  right: [(arrow_function) (function_expression)]) @definition.function

; ---- top-level constants and variables ----
(program
  [(lexical_declaration (variable_declarator name: (identifier) @name)) @definition.constant
   (export_statement declaration: (lexical_declaration (variable_declarator name: (identifier) @name)) @definition.constant)]
  (#match? @name "^[A-Z_][A-Z0-9_]*$"))
(program [(lexical_declaration (variable_declarator name: (identifier) @name)) (variable_declaration (variable_declarator name: (identifier) @name))] @definition.variable)
(program (export_statement declaration: [(lexical_declaration (variable_declarator name: (identifier) @name)) (variable_declaration (variable_declarator name: (identifier) @name))] @definition.variable))

; ---- references ----
((call_expression function: (identifier) @name) @reference.call
  (#not-any-of? @name "require" "import"))
(call_expression function: (member_expression property: (property_identifier) @name)) @reference.call
(new_expression constructor: [(identifier) @name (member_expression property: (property_identifier) @name)]) @reference.class
(extends_clause value: (identifier) @name @reference.type)
(extends_clause value: (member_expression property: (property_identifier) @name) @reference.type)
(type_identifier) @name @reference.type

; ---- imports ----
(import_statement
  (import_clause [(identifier) @import.name (named_imports (import_specifier name: (identifier) @import.name))])
  source: (string) @import.module) @import
(import_statement source: (string) @import.module) @import
(export_statement source: (string) @import.module) @import
((call_expression function: (identifier) @_f arguments: (arguments . (string) @import.module)) @import
  (#eq? @_f "require"))
