; moecode tags for Lua (tree-sitter-lua 2.1.3). See lsp/workspace/tags.h.
(function_definition_statement name: (identifier) @name) @definition.function
(function_definition_statement name: (variable table: (identifier) @container field: (identifier) @name)) @definition.function
(function_definition_statement name: (variable table: (identifier) @container method: (identifier) @name)) @definition.method
(local_function_definition_statement name: (identifier) @name) @definition.function
((chunk (variable_assignment (variable_list (variable name: (identifier) @name))) @definition.constant)
  (#match? @name "^[A-Z_][A-Z0-9_]*$"))

((call function: [(variable name: (identifier) @name) (variable field: (identifier) @name) (variable method: (identifier) @name)]) @reference.call
  (#not-eq? @name "require"))

((call function: (variable name: (identifier) @_f) arguments: (argument_list [(string) (expression_list . (string))] @import.module)) @import
  (#eq? @_f "require"))
