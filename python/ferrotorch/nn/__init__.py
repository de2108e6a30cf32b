"""``torch.nn``: modules, parameters, containers, layers, losses, ``functional``, ``init`` and ``utils``."""

from ferrotorch.nn import functional as functional
from ferrotorch.nn import init as init
from ferrotorch.nn import parameter as parameter
from ferrotorch.nn import utils as utils
from ferrotorch.nn.modules import *
from ferrotorch.nn.parameter import Buffer as Buffer
from ferrotorch.nn.parameter import Parameter as Parameter
from ferrotorch.nn.parameter import UninitializedBuffer as UninitializedBuffer
from ferrotorch.nn.parameter import UninitializedParameter as UninitializedParameter
