"""python-dbusmock template: KWin's night light interface of Plasma 6 (`org.kde.KWin.NightLight`
at /org/kde/KWin/NightLight), with its read-only properties. KWin itself reads kwinrc; this mock
only tells that KWin and its night light are there."""

import dbus

BUS_NAME = "org.kde.KWin"
MAIN_OBJ = "/org/kde/KWin/NightLight"
MAIN_IFACE = "org.kde.KWin.NightLight"
SYSTEM_BUS = False


def load(mock, parameters):
    mock.AddMethods(MAIN_IFACE, [("preview", "u", "", ""), ("stopPreview", "", "", "")])
    # KWin's own object (sundown does not call it: after kwriteconfig5 it sends the change notice
    # KWin's config watcher acts on, see runtime/effects/nightlight.py).
    mock.AddObject("/KWin", "org.kde.KWin", {}, [("reconfigure", "", "", "")])
    mock.AddProperties(
        MAIN_IFACE,
        dbus.Dictionary(
            {
                "available": dbus.Boolean(True),
                "enabled": dbus.Boolean(False),
                "running": dbus.Boolean(False),
                "inhibited": dbus.Boolean(False),
                "currentTemperature": dbus.UInt32(6500),
                "targetTemperature": dbus.UInt32(6500),
                "mode": dbus.UInt32(0),
            },
            signature="sv",
        ),
    )
