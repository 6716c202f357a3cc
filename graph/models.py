# Relationships between memories arrive with the graph extension (issue 6).
