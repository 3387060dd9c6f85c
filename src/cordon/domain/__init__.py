"""Pure types and rules of Cordon: no I/O, no imports of other Cordon packages."""
