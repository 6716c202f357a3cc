"""Embeddings on their way into SQL: pgvector's text form made once (``vector_text``), a vector with
its text kept (:class:`SqlVector`), possibly one the model is still making, and the model field
that lets such a vector reach the driver as it is (:class:`EmbeddingField`).

A vector still being made is what lets an add overlap its two halves: the model runs on a thread of
its own (``memories.embedding.embed_later``; ONNX Runtime and torch release the GIL) while the
request builds the add's rows, and the vector is asked for only when the add's statements go out
(``mem0g_site.deferred``), by the driver, which adapts each parameter then.

Two forms reach PostgreSQL: the text (a statement whose parameters the driver merges into it, as
Django's cursors do) and, where the driver binds parameters on the server (the add's pipelined
INSERTs), pgvector's binary form: 4 bytes of header and the float32s, which the server copies
instead of parsing 384 decimal numbers (about 75 us a vector).
"""

from array import array
from collections.abc import Callable
from typing import Any

import numpy as np
from pgvector import Vector
from pgvector.django import VectorField
from psycopg.adapt import Dumper
from psycopg.pq import Format


def vector_text(vector) -> str:
    """``vector`` as pgvector's text form, made once per search. A float32 array (what the model
    gives) is written with nine significant digits, which give back exactly the float32 the model made
    (pgvector stores float32) in a text a third shorter than Python's 17-digit repr, in half the
    time (about 80 instead of 140 us for 384 dimensions); anything else as pgvector writes it."""
    if isinstance(vector, np.ndarray) and vector.dtype == np.float32 and vector.ndim == 1:
        return "[" + ",".join(map("%.9g".__mod__, vector.tolist())) + "]"
    return Vector(vector).to_text()


class SqlVector(Vector):
    """An embedding on its way into the database, its SQL text made once: the add pipeline sends a
    message's vector twice (its memory and its source), and Python's repr of each float32 (17
    digits) costs both sides (:func:`vector_text`).

    Made from the array (``SqlVector(array)``), or from ``later``, a function that waits for the
    model's array and returns it (``SqlVector(later=...)``): then the array is waited for the first
    time anything needs it, ``vector``, the text or the binary form (the driver's, when the statement
    holding it goes out), and an error of the model is raised there. The text is made the first
    time it is asked for (a statement bound on the server never asks)."""

    def __init__(self, vector: np.ndarray | None = None, *, later: Callable[[], Any] | None = None):
        if (vector is None) == (later is None):
            raise TypeError("SqlVector takes an array or later, not both")
        self._array = vector
        self._later = later
        self._text = None

    @property
    def pending(self) -> bool:
        """Whether the model has not been waited for yet (the array may be ready all the same)."""
        return self._array is None

    @property
    def vector(self) -> np.ndarray:
        """The array (waited for, the first time, when made from ``later``)."""
        if self._array is None:
            self._array = self._later()
            self._later = None
        return self._array

    @property
    def _value(self) -> array:  # what pgvector's own methods (to_list, __eq__, ...) read
        return array("f", np.asarray(self.vector, dtype=np.float32).tobytes())

    def to_text(self) -> str:
        if self._text is None:
            self._text = vector_text(self.vector)
        return self._text


def sql_vector(vector: Any) -> Any:
    """``vector`` ready for an INSERT: a :class:`SqlVector` when it is a float32 array (what the
    model gives), else as given (a :class:`SqlVector` already, lists and other types, which keep
    pgvector's own conversion)."""
    if isinstance(vector, np.ndarray) and vector.dtype == np.float32 and vector.ndim == 1:
        return SqlVector(vector)
    return vector


def plain_vector(vector: Any) -> Any:
    """The array of a :class:`SqlVector` (waited for if it is pending); anything else as given."""
    return vector.vector if isinstance(vector, SqlVector) else vector


class EmbeddingField(VectorField):
    """pgvector's field, but a :class:`SqlVector` reaches the driver as it is (pgvector's field turns
    every value into its text when the statement is compiled), so a pending vector is waited for
    only when its statement is sent. Stored exactly as pgvector's field stores it."""

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, SqlVector):
            return value
        return super().get_prep_value(value)


class VectorTextDumper(Dumper):
    """psycopg's adapter of a pgvector ``Vector`` (a :class:`SqlVector` too) in a statement whose
    parameters are merged into its text (Django's cursors): its text, as an untyped literal (the
    column or the statement's ``::vector`` gives the type)."""

    format = Format.TEXT

    def dump(self, obj: Vector) -> bytes:
        return obj.to_text().encode()


class VectorBinaryDumper(Dumper):
    """The same where parameters are bound on the server (``mem0g_site.deferred``'s pipeline): the
    binary form, its type left for the server to infer from the statement (the column, or
    ``::vector``), as with the text, so that no connection needs pgvector's type oid."""

    format = Format.BINARY

    def dump(self, obj: Vector) -> bytes:
        return obj.to_binary()  # pgvector's own (a SqlVector's array is waited for here)


def register_dumpers() -> None:
    """Teach psycopg (every connection opened from now on) to send a ``Vector`` as a parameter: as
    text where the driver merges parameters into the statement, in binary where it binds them."""
    import psycopg

    psycopg.adapters.register_dumper(Vector, VectorTextDumper)
    psycopg.adapters.register_dumper(Vector, VectorBinaryDumper)  # registered last: what %s picks when bound
