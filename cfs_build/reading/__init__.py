"""Reading a spec tree: names, files and what was read, Markdown, frontmatter, nodes, the tree."""
