"""Organization vetting: the checks an applicant passes before it is granted access."""
