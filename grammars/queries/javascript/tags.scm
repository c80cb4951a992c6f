; moecode tags for JavaScript (tree-sitter-javascript 0.23.1). See lsp/workspace/tags.h.

; ---- classes and methods ----
(class_declaration name: (identifier) @name) @definition.class
(class name: (identifier) @name) @definition.class
(method_definition name: [(property_identifier) (private_property_identifier)] @name) @definition.method
(pair key: (property_identifier) @name value: [(arrow_function) (function_expression)]) @definition.method

; ---- functions ----
(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
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
(class_heritage (identifier) @name @reference.type)
(class_heritage (member_expression property: (property_identifier) @name) @reference.type)

; ---- imports ----
(import_statement
  (import_clause [(identifier) @import.name (named_imports (import_specifier name: (identifier) @import.name))])
  source: (string) @import.module) @import
(import_statement source: (string) @import.module) @import
(export_statement source: (string) @import.module) @import
((call_expression function: (identifier) @_f arguments: (arguments . (string) @import.module)) @import
  (#eq? @_f "require"))

; ---- JSX component uses ----
; Components start with a capital letter; lower-case names are intrinsic elements (<div>).
((jsx_opening_element name: (identifier) @name) @reference.class (#match? @name "^[A-Z]"))
((jsx_self_closing_element name: (identifier) @name) @reference.class (#match? @name "^[A-Z]"))
