; moecode tags for Bash (tree-sitter-bash 0.23.3). See lsp/workspace/tags.h.
(function_definition name: (word) @name) @definition.function
((declaration_command (variable_assignment name: (variable_name) @name)) @definition.constant)
((program (variable_assignment name: (variable_name) @name) @definition.variable))

((command name: (command_name (word) @name)) @reference.call
  (#not-any-of? @name "source" "." "echo" "printf" "cd" "export" "local" "return" "exit" "set" "shift" "test" "["))

((command name: (command_name (word) @_f) argument: [(word) (string) (raw_string)] @import.module) @import
  (#any-of? @_f "source" "."))
