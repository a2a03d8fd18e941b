"""Stand-in for micropython-lib's ntptime (micropython/net/ntptime/ntptime.py, frozen into the ESP32
images by ports/esp32/boards/manifest.py's bundle-networking), for the board twin (board_twin.py).

The request is not sent: its reply is board_twin.next_ntp_reply() (bytes, or the exception a
timeout or a failed DNS lookup raises). The reply is read as ntptime.time() reads it:
struct.unpack("!I", msg[40:44]) with no length check, so a reply shorter than 44 bytes raises
ValueError; the Y2036 fix, then settime() sets machine.RTC() in UTC."""

import struct
from time import gmtime

import board_twin

host = "pool.ntp.org"
timeout = 1


def time():
    msg = board_twin.next_ntp_reply()
    val = struct.unpack("!I", msg[40:44])[0]
    if val < 3913056000:  # before 2024: the 32-bit count wrapped (Y2036)
        val += 0x100000000
    return val - (3155673600 if gmtime(0)[0] == 2000 else 2208988800)


def settime():
    import machine

    tm = gmtime(time())
    machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6] + 1, tm[3], tm[4], tm[5], 0))
