"""The EC2 instance metadata service (see DESIGN.md, "Metadata service")."""
