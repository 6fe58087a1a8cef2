"""What the build makes beyond the sources: the Sparkplug B message classes, generated from
``connectors/sparkplug/sparkplug_b.proto`` by protobuf's own compiler (protoc, from grpcio-tools, a build
requirement), and the one compiled part of shopfloor, the reader of plain Sparkplug B DATA payloads (``_plain.c``).

The generated ``sparkplug_b_pb2.py`` is written beside the ``.proto`` (so an editable install finds it too) and
is not committed.  The C reader is optional: where it cannot be built (no C compiler), the same payloads go
through the protobuf decoder, and everything works, more slowly.  Everything else about the package is in
``pyproject.toml``."""

from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

SPARKPLUG = Path(__file__).resolve().parent / "src" / "shopfloor" / "connectors" / "sparkplug"


class build_py_with_protobuf(build_py):  # noqa: N801 - setuptools command classes are named so
    """build_py that first generates the Sparkplug B message classes with protoc."""

    def run(self) -> None:
        from grpc_tools import protoc  # a build requirement only: imported when building

        args = ["protoc", f"-I{SPARKPLUG}", f"--python_out={SPARKPLUG}", str(SPARKPLUG / "sparkplug_b.proto")]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc could not compile sparkplug_b.proto")
        super().run()


setup(
    cmdclass={"build_py": build_py_with_protobuf},
    ext_modules=[
        Extension(
            "shopfloor.connectors.sparkplug._plain",
            ["src/shopfloor/connectors/sparkplug/_plain.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ],
)
