"""The bundled networks: NETS registry from name to constructor (torch)."""
