"""Kexts: bundles, versions, discovery, dependency resolution and loading (xnu ``OSKext``)."""
