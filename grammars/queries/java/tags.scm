; moecode tags for Java (tree-sitter-java 0.23.5). See lsp/workspace/tags.h.

(package_declaration [(identifier) (scoped_identifier)] @name) @definition.module

; ---- types ----
(class_declaration name: (identifier) @name) @definition.class
(record_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.interface
(annotation_type_declaration name: (identifier) @name) @definition.interface
(enum_declaration name: (identifier) @name) @definition.enum
(enum_constant name: (identifier) @name) @definition.constant

; ---- members ----
(method_declaration name: (identifier) @name) @definition.method
(constructor_declaration name: (identifier) @name) @definition.method
((field_declaration (modifiers) @_m declarator: (variable_declarator name: (identifier) @name)) @definition.constant
  (#match? @_m "\\bstatic\\b")
  (#match? @_m "\\bfinal\\b"))
(constant_declaration declarator: (variable_declarator name: (identifier) @name)) @definition.constant

; ---- references ----
(method_invocation name: (identifier) @name) @reference.call
(object_creation_expression type: [(type_identifier) @name (generic_type (type_identifier) @name) (scoped_type_identifier (type_identifier) @name .)]) @reference.class
(type_identifier) @name @reference.type

; ---- imports ----
(import_declaration (scoped_identifier scope: (_) @import.module name: (identifier) @import.name) .) @import
(import_declaration [(identifier) (scoped_identifier)] @import.module (asterisk)) @import
