"""The one compiled part of shopfloor: the reader of plain Sparkplug B DATA payloads (``_plain.c``).

Optional: where it cannot be built (no C compiler), the same payloads go through the protobuf decoder, and
everything works, more slowly.  Everything else about the package is in ``pyproject.toml``."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "shopfloor.connectors.sparkplug._plain",
            ["src/shopfloor/connectors/sparkplug/_plain.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
