; moecode tags for C# (tree-sitter-c-sharp 0.23.1). See lsp/workspace/tags.h.
(namespace_declaration name: (_) @name) @definition.module
(file_scoped_namespace_declaration name: (_) @name) @definition.module
(class_declaration name: (identifier) @name) @definition.class
(record_declaration name: (identifier) @name) @definition.class
(struct_declaration name: (identifier) @name) @definition.struct
(interface_declaration name: (identifier) @name) @definition.interface
(enum_declaration name: (identifier) @name) @definition.enum
(enum_member_declaration name: (identifier) @name) @definition.constant
(method_declaration name: (identifier) @name) @definition.method
(constructor_declaration name: (identifier) @name) @definition.method
(property_declaration name: (identifier) @name) @definition.field
((field_declaration (modifier) @_m (variable_declaration (variable_declarator name: (identifier) @name))) @definition.constant
  (#eq? @_m "const"))

(invocation_expression function: [(identifier) @name (member_access_expression name: (identifier) @name)]) @reference.call
(object_creation_expression type: [(identifier) @name (qualified_name name: (identifier) @name) (generic_name (identifier) @name)]) @reference.class
(base_list [(identifier) @name (generic_name (identifier) @name)] @reference.type)
(parameter type: (identifier) @name) @reference.type
(variable_declaration type: (identifier) @name) @reference.type

(using_directive [(identifier) (qualified_name)] @import.module) @import
