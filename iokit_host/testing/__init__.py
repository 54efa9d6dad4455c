"""Testing support for driver authors: the pytest plugin and machine builders."""
