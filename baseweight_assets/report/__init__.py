"""Task summaries, the versioned dashboard JSON, CSV/Markdown tables and the static site build."""
