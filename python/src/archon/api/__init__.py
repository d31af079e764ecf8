"""HTTP plumbing shared by every router: error rendering, authentication, dependencies."""
