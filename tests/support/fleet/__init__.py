"""The fleet test's support: the host tree, booted hosts, the controller's Ansible runs."""
