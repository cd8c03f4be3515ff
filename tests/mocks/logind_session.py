"""python-dbusmock template: logind's manager, one graphical session and the user's Display.

dbusmock's own `logind` template needs PyGObject (gi) for its Inhibit fd; this one does not,
and has what sundown reads: the session's LockedHint / IdleHint / IdleSinceHint, the
manager's BlockInhibited, with PropertiesChanged on every change (dbusmock's Set emits it).
"""

import dbus
from dbusmock import MOCK_IFACE

BUS_NAME = "org.freedesktop.login1"
MAIN_OBJ = "/org/freedesktop/login1"
MAIN_IFACE = "org.freedesktop.login1.Manager"
SYSTEM_BUS = True

SESSION = "/org/freedesktop/login1/session/c1"
SESSION_IFACE = "org.freedesktop.login1.Session"
USER_SELF = "/org/freedesktop/login1/user/self"


def load(mock, parameters):
    mock.AddMethods(
        MAIN_IFACE,
        [
            ("GetSession", "s", "o", f'ret = "{SESSION}"'),
            ("GetSessionByPID", "u", "o", f'ret = "{SESSION}"'),
        ],
    )
    mock.AddProperties(
        MAIN_IFACE,
        dbus.Dictionary({"BlockInhibited": parameters.get("BlockInhibited", "")}, signature="sv"),
    )
    mock.AddObject(
        SESSION,
        SESSION_IFACE,
        {
            "Id": "c1",
            "LockedHint": parameters.get("LockedHint", False),
            "IdleHint": parameters.get("IdleHint", False),
            "IdleSinceHint": dbus.UInt64(parameters.get("IdleSinceHint", 0)),
        },
        [
            ("SetLockedHint", "b", "", f'self.Set("{SESSION_IFACE}", "LockedHint", args[0])'),
            ("Lock", "", "", f'self.Set("{SESSION_IFACE}", "LockedHint", True)'),
        ],
    )
    mock.AddObject(
        USER_SELF,
        "org.freedesktop.login1.User",
        {"Display": dbus.Struct(("c1", dbus.ObjectPath(SESSION)), signature="so")},
        [],
    )


__all__ = ["MOCK_IFACE", "load"]
