# umqtt.simple 1.3.4 imports `ussl` for TLS (the peer benchmark uses it); MicroPython >= 1.21 names it `ssl`.
from ssl import *  # noqa: F401,F403
