"""Module doc."""
import os
import os.path as osp
from collections import OrderedDict, defaultdict as dd
from . import sibling
from .shapes import Circle
from ..pkg.mod import *
MAX_RETRIES = 3
_cache: dict = {}

class Shape(Base, metaclass=ABCMeta):
    kind = "shape"

    def __init__(self, n):
        self.n = n

    @property
    def area(self) -> float:
        return compute_area(self.n)

    class Inner:
        pass

@decorator
def helper(x, *args, **kw):
    def nested():
        return x
    c = Circle(2)
    c.area()
    return os.path.join(str(x), nested())

async def fetch(url: str) -> bytes:
    pass
