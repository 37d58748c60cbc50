"""The sandbox escape suite (a package, so its conftest never shares the module name `conftest`)."""
