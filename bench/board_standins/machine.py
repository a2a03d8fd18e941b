"""Stand-in for the ESP32 port's machine module (bench/module_heap.py only)."""


class Pin:
    IN = 1
    PULL_UP = 2
    IRQ_FALLING = 2
    IRQ_RISING = 1


class PWM:
    pass


class WDT:
    pass
