; moecode tags for TSX: appended to queries/typescript/tags.scm (JSX component uses).
(jsx_opening_element name: (identifier) @name) @reference.class
(jsx_self_closing_element name: (identifier) @name) @reference.class
