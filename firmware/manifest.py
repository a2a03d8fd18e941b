# Freeze the cat feeder's firmware into your own MicroPython image (firmware/README.md, "Freeze it
# into your own image"): include this file from your board's manifest. Frozen bytecode runs from
# flash, so the modules cost no GC heap. main.py and boot.py stay on the filesystem (they are what boots).
metadata(description="Cat feeder firmware: decision path, journal, outbox, MQTT link", version="1.0.0")

for name in ("app", "board_button", "board_network", "bootonly", "button", "cap", "command", "config",
             "connect", "expiry", "feeder", "flashfs", "hal_board", "journal", "legacy", "link",
             "messages", "migrate", "otaboot", "otadoc", "otafetch", "otajob", "otastage", "otaverify",
             "outbox", "press", "presses", "records", "reports", "restore", "schedule", "schedule_doc",
             "servo", "shadow", "signature", "smallfiles", "startup", "tzparse", "tzrule"):
    module(name + ".py")
