"""awrs.sampling."""
