"""The comparison report: tables (CSV, Markdown) and, later, plots and HTML."""
