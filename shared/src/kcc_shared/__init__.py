"""Contact.STAD shared library: event contracts and infrastructure glue, no business logic."""
