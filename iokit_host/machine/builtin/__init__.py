"""Built-in machine models, shipped as package data (``*.toml``): ``default`` is a modelled
MacBookPro8,2 laptop, the counterpart of the hardware a Mac's firmware describes."""
