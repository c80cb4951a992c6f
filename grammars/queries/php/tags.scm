; moecode tags for PHP (tree-sitter-php 0.23.12, php/). See lsp/workspace/tags.h.
(namespace_definition name: (namespace_name) @name) @definition.module
(class_declaration name: (name) @name) @definition.class
(interface_declaration name: (name) @name) @definition.interface
(trait_declaration name: (name) @name) @definition.trait
(enum_declaration name: (name) @name) @definition.enum
(function_definition name: (name) @name) @definition.function
(method_declaration name: (name) @name) @definition.method
(const_declaration (const_element (name) @name)) @definition.constant

(function_call_expression function: [(name) @name (qualified_name (name) @name .)]) @reference.call
(member_call_expression name: (name) @name) @reference.call
(scoped_call_expression name: (name) @name) @reference.call
(object_creation_expression [(name) @name (qualified_name (name) @name .)]) @reference.class
(base_clause [(name) @name (qualified_name (name) @name .)]) @reference.type
(class_interface_clause [(name) @name (qualified_name (name) @name .)]) @reference.type

(namespace_use_clause [(name) (qualified_name)] @import.module) @import
(require_expression (string (string_content) @import.module)) @import
(require_once_expression (string (string_content) @import.module)) @import
(include_expression (string (string_content) @import.module)) @import
(include_once_expression (string (string_content) @import.module)) @import
