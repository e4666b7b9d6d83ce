"""The clinic's day: the day list of appointments and the appointment dialog."""
