"""Custom integrations of this repository, a package so that tests can import them."""
