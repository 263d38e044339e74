"""The demo: seeded logins and a project of generated images, and a simulated crowd that runs
the whole loop through the real services. No models; nothing in production imports it."""
