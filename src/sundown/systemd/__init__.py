"""systemd integration: sd_notify and journal logging at run time; the unit and systemctl at install time."""
