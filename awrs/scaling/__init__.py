"""awrs.scaling."""
