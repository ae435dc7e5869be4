"""The figures the traffic model is calibrated on, each with its source.

Volumes are for a city of 150,000 inhabitants and scale linearly with `--inhabitants`.
"""

REFERENCE_INHABITANTS = 150_000

# Telephone: ~160,000 calls a year, ~650 per working day, for 's-Hertogenbosch (~150,000
# inhabitants) — /work/shared/brief.md ("Volumes to design for"). The city's own annual reports
# agree: 174,444 incoming calls in 2018 and 163,408 in 2019 (Jaarverslag 2018 and Jaarstukken
# 2019 gemeente 's-Hertogenbosch, paragraph "Dienstverlening", kengetallen).
CALLS_PER_WORKING_DAY = 650.0

# Mean call time 4:47 to 5:42 (same reports, 2016-2019: 5:36, 5:42, 4:47, 4:52); the brief says
# "average call ~5 min". We draw talk time lognormally around 4.5 min plus 30 s wrap-up.
MEAN_TALK_S = 270.0
SD_TALK_S = 150.0
MEAN_WRAP_UP_S = 30.0

# Callers' patience: 's-Hertogenbosch reached a 6-7% abandonment rate at a 67-71% service level
# (80% within 25 s) in 2018-2019 (same reports). An exponential patience with a mean of 6 minutes
# reproduces that order of abandonment at that service level in this model (see the unit tests).
MEAN_PATIENCE_S = 360.0

# Counter: 61,024 visitors helped at burgerzaken plus 27,279 contacts at the service desk in 2018
# ('s-Hertogenbosch Jaarverslag 2018), over ~252 working days: ~350 visits a working day. The
# appointment share is burgerzaken's part of that total (61,024 / 88,303 = 0.69): burgerzaken
# works by appointment, the service desk takes walk-ins.
COUNTER_VISITS_PER_WORKING_DAY = 350.0
COUNTER_APPOINTMENT_SHARE = 0.69
MEAN_COUNTER_SERVICE_S = 540.0  # our assumption: 9 minutes a visit (passport, moving house)
MEAN_WALK_IN_PATIENCE_S = 2700.0  # our assumption: walk-ins give up after ~45 minutes
# Our assumption: 60% of appointments are booked online (each booking is a web contact).
ONLINE_BOOKING_SHARE = 0.6

# E-mail: 4,174 incoming mails in 2018 at the contact centre ('s-Hertogenbosch Jaarverslag
# 2018): 11.4 a calendar day. Social: 6,676 incoming WhatsApp messages in 2019 ('s-Hertogenbosch
# Jaarstukken 2019): 18.3 a calendar day (Terneuzen reported ~15 a day: Metro, 11 May 2017).
EMAILS_PER_DAY = 4174 / 365
SOCIAL_PER_DAY = 6676 / 365

# Web forms: "only 11 percent of customer contact is digital" (Rijnconsult/Telengy survey of 78
# municipalities, Binnenlands Bestuur, 16 July 2014). With calls, counter visits and letters as
# the other 89%, digital contacts are 0.11 / 0.89 x (650 + 350 + 20) = 126 a working day, of
# which e-mail and social take ~30: ~96 web forms a working day.
WEB_FORMS_PER_WORKING_DAY = 0.11 / 0.89 * (CALLS_PER_WORKING_DAY + COUNTER_VISITS_PER_WORKING_DAY + 20) - 30

# Letters: no published figure found; our assumption is 20 citizen letters a working day, of
# which 40% scan badly enough to carry OCR errors (the seed letter shows how they look).
LETTERS_PER_WORKING_DAY = 20.0
OCR_DAMAGED_SHARE = 0.4

# First-contact resolution: Antwoord© aims at 80% answered by the KCC; in 2014 only 5% of 78
# municipalities answered three quarters directly and a third at least half (Rijnconsult/Telengy,
# Binnenlands Bestuur 16 July 2014). Our defaults sit between: 75% on the phone, 85% written.
PHONE_RESOLVED_IN_KCC = 0.75
WRITTEN_RESOLVED_IN_KCC = 0.85
COUNTER_RESOLVED_IN_KCC = 0.95
CALLER_NUMBER_WITHHELD = 0.12  # our assumption

# Handle times of written work (our assumptions): minutes per item.
WRITTEN_HANDLE_MIN = {"social": 4.0, "web": 6.0, "email": 7.0, "letter": 15.0}

# Shapes over the day and the week are our assumptions, typical of municipal contact centres:
# a Monday peak and a morning peak between 09:00 and 11:00 on the phone; mail and web forms
# around the clock with an evening bump; letters come with the morning post.
WEEKDAY_FACTOR = {
    "telephone": (1.20, 1.05, 0.95, 0.95, 0.85, 0.0, 0.0),
    "counter": (1.10, 1.00, 0.95, 1.05, 0.90, 0.0, 0.0),
    "web": (1.15, 1.05, 1.00, 1.00, 0.90, 0.45, 0.45),
    "email": (1.20, 1.10, 1.00, 1.00, 0.90, 0.40, 0.40),
    "social": (1.05, 1.00, 1.00, 1.00, 1.00, 0.95, 0.95),
    "letter": (1.30, 1.00, 0.95, 0.90, 0.85, 0.0, 0.0),
}
# Share of a day's arrivals per local hour (0..23); each list sums to 1.
HOURLY = {
    "telephone": {8: 0.10, 9: 0.15, 10: 0.14, 11: 0.13, 12: 0.09, 13: 0.11, 14: 0.11, 15: 0.10, 16: 0.07},
    "walk_in": {8: 0.04, 9: 0.13, 10: 0.15, 11: 0.14, 12: 0.10, 13: 0.12, 14: 0.12, 15: 0.11, 16: 0.09},
    "web": {h: s for h, s in zip(range(24), (
        0.01, 0.005, 0.005, 0.005, 0.005, 0.01, 0.02, 0.04, 0.06, 0.07, 0.07, 0.065, 0.06, 0.065,
        0.065, 0.06, 0.055, 0.05, 0.05, 0.06, 0.065, 0.055, 0.04, 0.02), strict=True)},
    "email": {h: s for h, s in zip(range(24), (
        0.01, 0.005, 0.005, 0.005, 0.005, 0.01, 0.02, 0.05, 0.08, 0.085, 0.08, 0.075, 0.06, 0.07,
        0.07, 0.065, 0.06, 0.045, 0.035, 0.04, 0.045, 0.04, 0.025, 0.015), strict=True)},
    "social": {h: s for h, s in zip(range(24), (
        0.015, 0.01, 0.005, 0.005, 0.005, 0.01, 0.02, 0.04, 0.055, 0.06, 0.06, 0.06, 0.065, 0.06,
        0.055, 0.055, 0.055, 0.055, 0.055, 0.06, 0.065, 0.06, 0.04, 0.025), strict=True)},
    "letter": {9: 0.5, 10: 0.4, 11: 0.1},
}

# Opening hours (local time): the KCC's phone line and written team as in routing's organisation
# (kcc 08:00-17:00); the counter 08:30-17:00; department back-offices 08:30-17:00.
PHONE_HOURS = (8.0, 17.0)
COUNTER_HOURS = (8.5, 17.0)
WRITTEN_TEAM_HOURS = (8.0, 17.0)
BACK_OFFICE_HOURS = (8.5, 17.0)

# Service-level target the phone rota is planned for (VNG minimum norm: 80% within 20 s).
PLAN_SERVICE_LEVEL = 0.80
PLAN_THRESHOLD_S = 20.0
