"""Projects, label schemas, datasets, items and the pipeline settings of a project."""
