"""Forms for the clinical records: assessment and followup, vasodilator challenge,
6-minute walk; the medications / allergies / secondary diseases panel."""
