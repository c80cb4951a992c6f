; moecode tags for Ruby (tree-sitter-ruby 0.23.1). See lsp/workspace/tags.h.
(module name: [(constant) (scope_resolution name: (constant))] @name) @definition.module
(class name: [(constant) (scope_resolution name: (constant))] @name) @definition.class
(method name: (_) @name) @definition.function
(singleton_method name: (_) @name) @definition.method
((assignment left: (constant) @name) @definition.constant)

((call method: (identifier) @name) @reference.call
  (#not-any-of? @name "require" "require_relative" "load" "attr_reader" "attr_writer" "attr_accessor"
    "include" "extend" "private" "protected" "public"))
(superclass [(constant) @name (scope_resolution name: (constant) @name)]) @reference.type

((call method: (identifier) @_f arguments: (argument_list . (string (string_content) @import.module))) @import
  (#any-of? @_f "require" "require_relative" "load"))
