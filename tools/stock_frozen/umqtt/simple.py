# Stands in, on the unix port, for the umqtt.simple that stock ESP32 images freeze (1.6 in MicroPython
# 1.25-1.26, 1.7 in 1.27-1.28: ports/esp32/boards/manifest.py and the micropython-lib commit each
# release tag pins). The board's sys.path is ['', '.frozen', '/lib'], so that copy shadows anything
# installed in /lib, and its connect() differs between releases. The firmware uses no MQTT library
# (firmware/connect.py); the test paths (tools/device.py board_path) put this folder where the
# board's frozen modules are, so any import of umqtt by the firmware fails every test that connects.
raise ImportError("umqtt.simple: the stock image's frozen copy (tools/stock_frozen); the firmware uses none")
