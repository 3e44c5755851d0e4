"""End-to-end tests of the review app in a real browser (a package, so its fixtures have package scope)."""
