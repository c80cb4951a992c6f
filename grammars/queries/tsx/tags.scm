; moecode tags for TSX: appended to queries/typescript/tags.scm (JSX component uses).
; Components start with a capital letter; lower-case names are intrinsic elements (<div>).
((jsx_opening_element name: (identifier) @name) @reference.class (#match? @name "^[A-Z]"))
((jsx_self_closing_element name: (identifier) @name) @reference.class (#match? @name "^[A-Z]"))
