"""python-dbusmock template: Plasma's notification server as the wind-down sees it.

`Inhibit` (spec 1.3) returns a cookie and sets `Inhibited` (PropertiesChanged, which sundown's
context watch follows); `UnInhibit` clears it again. Plasma also drops an inhibition when the
connection that asked goes away; this mock does not (the test checks the connection itself).
Notify answers with increasing ids; GetServerInformation names Plasma.
"""

import dbus

BUS_NAME = "org.freedesktop.Notifications"
MAIN_OBJ = "/org/freedesktop/Notifications"
MAIN_IFACE = "org.freedesktop.Notifications"
SYSTEM_BUS = False


def load(mock, parameters):
    mock.next_id = 1
    mock.cookies = set()
    mock.AddMethods(
        MAIN_IFACE,
        [
            ("GetCapabilities", "", "as", 'ret = ["actions", "body", "body-markup", "inhibitions"]'),
            ("GetServerInformation", "", "ssss", 'ret = ("Plasma", "KDE", "5.27.5", "1.2")'),
            ("CloseNotification", "u", "", ""),
            ("Notify", "susssasa{sv}i", "u", "ret = args[1] or self.next_id\nself.next_id += 1"),
            (
                "Inhibit",
                "ssa{sv}",
                "u",
                "cookie = len(self.cookies) + 41\nself.cookies.add(cookie)\n"
                f"self.Set('{MAIN_IFACE}', 'Inhibited', dbus.Boolean(True))\nret = dbus.UInt32(cookie)",
            ),
            (
                "UnInhibit",
                "u",
                "",
                "self.cookies.discard(int(args[0]))\n"
                f"self.Set('{MAIN_IFACE}', 'Inhibited', dbus.Boolean(bool(self.cookies)))",
            ),
        ],
    )
    mock.AddProperties(MAIN_IFACE, dbus.Dictionary({"Inhibited": dbus.Boolean(False)}, signature="sv"))
