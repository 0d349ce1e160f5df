"""Access to the OpenVZ node: spawning vzctl/vzlist (`process`) and reading what they report (`observe`)."""
