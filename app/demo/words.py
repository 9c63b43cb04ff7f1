"""Word lists the demo corpus is assembled from: names, places, topics and sentence templates."""

from __future__ import annotations

CATEGORIES = (
    "World", "Politics", "Business", "Markets", "Economy", "Technology", "Science",
    "Climate", "Health", "Education", "Energy", "Transport", "Agriculture", "Culture",
    "Sport", "Travel", "Law", "Defense", "Cities", "Media", "Food", "Housing",
    "Labor", "Space",
)  # fmt: skip

FIRST_NAMES = (
    "Ada", "Adrian", "Aisha", "Alejandro", "Amara", "Anders", "Andrea", "Anika", "Arjun",
    "Astrid", "Beatriz", "Benedikt", "Bianca", "Bruno", "Camille", "Carlos", "Chiara",
    "Chidi", "Clara", "Daniel", "Daria", "David", "Diego", "Dmitri", "Elena", "Elif",
    "Emil", "Emma", "Erik", "Esther", "Fatima", "Felix", "Fiona", "Florian", "Gabriel",
    "Grace", "Hana", "Hannah", "Hassan", "Helena", "Hugo", "Ibrahim", "Ines", "Ingrid",
    "Isaac", "Ivan", "Jacob", "Jana", "Javier", "Jonas", "Julia", "Kai", "Karin", "Kenji",
    "Kofi", "Laila", "Lars", "Laura", "Leila", "Leo", "Lina", "Lucas", "Lucia", "Magnus",
    "Maja", "Malik", "Marco", "Maria", "Marta", "Mateo", "Maya", "Mei", "Mia", "Mikael",
    "Nadia", "Naomi", "Nia", "Nikolai", "Nina", "Noah", "Nora", "Olga", "Omar", "Oscar",
    "Paolo", "Pedro", "Priya", "Rafael", "Rahul", "Rania", "Rosa", "Ruth", "Samuel",
    "Sara", "Sebastian", "Sofia", "Stefan", "Tariq", "Thomas", "Tomas", "Valentina",
    "Victor", "Wei", "Yara", "Yusuf", "Zara", "Zoe",
)  # fmt: skip

LAST_NAMES = (
    "Abbott", "Adeyemi", "Alvarez", "Andersen", "Baker", "Bauer", "Becker", "Bennett",
    "Bianchi", "Brennan", "Carter", "Castillo", "Chen", "Coleman", "Costa", "Crow",
    "Dahl", "Das", "Delgado", "Dubois", "Eriksen", "Evans", "Farouk", "Fischer",
    "Fontaine", "Foster", "Garcia", "Greco", "Gupta", "Haddad", "Hansen", "Harper",
    "Hayes", "Hoffmann", "Holm", "Ibrahim", "Ito", "Jensen", "Kaplan", "Keller", "Khan",
    "Kim", "Kowalski", "Kruger", "Lambert", "Larsen", "Laurent", "Lee", "Lindqvist",
    "Lopez", "Marchetti", "Martin", "Mendes", "Meyer", "Moreau", "Morgan", "Murphy",
    "Nakamura", "Nguyen", "Novak", "Nowak", "Okafor", "Olsen", "Ortiz", "Osei", "Park",
    "Patel", "Pereira", "Petrov", "Quinn", "Rahman", "Ramos", "Reyes", "Ricci", "Rossi",
    "Russo", "Sato", "Schmidt", "Schneider", "Silva", "Singh", "Solberg", "Sorensen",
    "Suzuki", "Tanaka", "Torres", "Vargas", "Varga", "Vogel", "Wagner", "Walsh", "Weber",
    "Wong", "Yamamoto", "Young", "Zhang", "Zimmermann",
)  # fmt: skip

PLACES = (
    "Rotterdam", "Hamburg", "Lagos", "Nairobi", "Jakarta", "Manila", "Lima", "Bogota",
    "Santiago", "Montreal", "Toronto", "Chicago", "Houston", "Phoenix", "Denver", "Seattle",
    "Atlanta", "Boston", "Mexico City", "Sao Paulo", "Buenos Aires", "Cape Town",
    "Johannesburg", "Cairo", "Istanbul", "Athens", "Lisbon", "Madrid", "Barcelona",
    "Marseille", "Lyon", "Milan", "Naples", "Vienna", "Prague", "Warsaw", "Krakow",
    "Budapest", "Bucharest", "Helsinki", "Oslo", "Stockholm", "Copenhagen", "Dublin",
    "Glasgow", "Manchester", "Seoul", "Busan", "Osaka", "Taipei", "Hanoi", "Bangkok",
    "Dhaka", "Karachi", "Mumbai", "Chennai", "Kolkata", "Colombo", "Perth", "Brisbane",
    "Auckland", "the Alps", "the Andes", "the Arctic", "the Sahel", "the Baltic",
    "the North Sea", "the Mekong Delta", "the Great Lakes", "the Rhine Valley",
    "the Gulf Coast", "the Amazon Basin", "Patagonia", "Siberia", "Bavaria", "Catalonia",
    "Quebec", "Texas", "California", "Scotland", "Brittany", "Sicily", "Anatolia",
    "Accra", "Addis Ababa", "Kigali", "Dakar", "Casablanca", "Tunis", "Beirut", "Amman",
    "Doha", "Muscat", "Tashkent", "Almaty", "Tbilisi", "Yerevan", "Baku", "Riga", "Vilnius",
    "Tallinn", "Gdansk", "Leipzig", "Dresden", "Cologne", "Antwerp", "Ghent", "Utrecht",
    "Bordeaux", "Toulouse", "Valencia", "Seville", "Porto", "Turin", "Bologna", "Genoa",
    "Zagreb", "Ljubljana", "Belgrade", "Sofia", "Thessaloniki", "Reykjavik", "Bergen",
    "Gothenburg", "Aarhus", "Cork", "Cardiff", "Belfast", "Edinburgh", "Halifax",
    "Vancouver", "Calgary", "Winnipeg", "Minneapolis", "Detroit", "Pittsburgh", "Baltimore",
    "Miami", "New Orleans", "Portland", "San Diego", "Sacramento", "Salt Lake City",
    "Albuquerque", "Monterrey", "Guadalajara", "Havana", "San Juan", "Quito", "La Paz",
    "Montevideo", "Asuncion", "Recife", "Manaus", "Durban", "Windhoek", "Lusaka", "Harare",
    "Maputo", "Dar es Salaam", "Mombasa", "Kampala", "Khartoum", "Lahore", "Hyderabad",
    "Pune", "Ahmedabad", "Kathmandu", "Yangon", "Phnom Penh", "Ho Chi Minh City",
    "Kuala Lumpur", "Singapore", "Surabaya", "Cebu", "Sapporo", "Fukuoka", "Nagoya",
    "Incheon", "Daegu", "Kaohsiung", "Ulaanbaatar", "Hobart", "Adelaide", "Darwin",
    "Wellington", "Christchurch", "Tasmania", "Greenland", "Svalbard", "Lapland",
    "the Balkans", "the Caucasus", "the Pyrenees", "the Po Valley", "the Danube Delta",
    "the Nile Delta", "the Ganges Basin", "the Outback", "the Yukon", "Appalachia",
)  # fmt: skip

INSTITUTIONS = (
    "the central bank", "the finance ministry", "the European Commission", "the city council",
    "the port authority", "the health ministry", "the energy regulator", "the supreme court",
    "the national statistics office", "the transport ministry", "the World Bank",
    "the United Nations", "the International Monetary Fund", "the school board",
    "the state legislature", "the competition authority", "the water utility",
    "the space agency", "the parliament", "the trade commission", "the labor ministry",
    "the weather service", "the housing agency", "the customs service",
    "the environment agency", "the rail operator", "the grid operator", "the fisheries board",
    "the education ministry", "the data protection authority", "the audit office",
    "the coast guard", "the planning commission", "the agriculture ministry",
    "the securities regulator", "the aviation authority", "the tourism board",
    "the mining ministry", "the public broadcaster", "the regional government",
    "the World Health Organization", "the OECD", "the African Union", "the Asian Development Bank",
)  # fmt: skip

GROUPS = (
    "farmers", "economists", "shipping lines", "dockworkers", "investors", "teachers",
    "hospital administrators", "engineers", "residents", "small businesses", "carmakers",
    "airlines", "insurers", "landlords", "tenants", "researchers", "union leaders",
    "local officials", "diplomats", "analysts", "commuters", "students", "nurses",
    "retailers", "utilities", "fishing crews", "software developers", "lawmakers",
    "exporters", "climate scientists", "public health experts", "city planners",
    "energy traders", "wine producers", "truck drivers", "startup founders",
    "pensioners", "dairy farmers", "miners", "port operators", "hoteliers", "bus drivers",
    "pharmacists", "architects", "biologists", "historians", "librarians", "firefighters",
    "rail workers", "steelworkers", "chefs", "vintners", "beekeepers", "foresters",
    "hydrologists", "seismologists", "data scientists", "venture capitalists",
    "fund managers", "credit unions", "food banks", "charities", "volunteers", "parents",
    "school principals", "university rectors", "museum curators", "film producers",
)  # fmt: skip

TOPICS = (
    "water supplies", "wage growth", "housing costs", "energy prices", "food prices",
    "supply chains", "interest rates", "public transport", "school funding",
    "hospital capacity", "broadband access", "grain exports", "battery production",
    "carbon emissions", "flood defenses", "tourism revenue", "pension reform",
    "chip manufacturing", "drought relief", "coastal erosion", "rail freight",
    "electricity demand", "migration policy", "data privacy", "drug pricing",
    "port congestion", "crop yields", "air quality", "rental markets", "fishing quotas",
    "satellite launches", "wildfire risk", "mining permits", "tax revenue",
    "credit conditions", "teacher shortages", "heat waves", "hydrogen projects",
    "copper demand", "solar capacity", "wind farms", "grid upgrades", "cyber attacks",
    "trade tariffs", "consumer spending", "factory output", "vaccine supplies",
    "bank lending", "urban heat", "river levels", "glacier melt", "soil health",
    "plastic waste", "shipping rates", "oil output", "gas storage", "dairy prices",
    "coffee harvests", "forest cover", "bird migration", "groundwater reserves",
    "snowpack", "salmon runs", "coral reefs", "peatland restoration", "urban farming",
    "bike lanes", "ride hailing", "night trains", "airport expansion", "canal traffic",
    "container volumes", "steel output", "cement demand", "timber prices", "fertilizer costs",
    "rice stocks", "wheat futures", "cocoa prices", "sugar exports", "olive harvests",
    "wine sales", "textile orders", "toy imports", "e-commerce parcels", "warehouse space",
    "office vacancies", "mortgage approvals", "student debt", "childcare places",
    "nursing homes", "emergency rooms", "mental health services", "antibiotic resistance",
    "measles cases", "dengue outbreaks", "organ donations", "blood supplies", "hearing aids",
    "insulin prices", "generic drugs", "clinical trials", "gene therapies", "lab capacity",
    "rare earths", "nickel mining", "cobalt supplies", "uranium enrichment", "geothermal wells",
    "tidal power", "heat pumps", "district heating", "smart meters", "charging stations",
    "electric buses", "cargo bikes", "drone deliveries", "self-driving trucks", "port cranes",
    "undersea cables", "data centers", "cloud spending", "ransomware attacks",
    "online voting", "census data", "voter turnout", "party funding", "court backlogs",
    "prison capacity", "police budgets", "border checks", "asylum claims", "visa waits",
    "remittances", "microloans", "pension funds", "sovereign debt", "currency reserves",
    "bond yields", "stock buybacks", "merger reviews", "startup funding", "patent filings",
    "museum visits", "concert tickets", "film production", "book sales", "local newspapers",
    "radio audiences", "sports stadiums", "marathon entries", "ski seasons", "beach erosion",
)  # fmt: skip

QUALIFIERS = (
    "Renewable", "Regional", "Urban", "Rural", "Coastal", "Digital", "Global", "Local",
    "Public", "Private", "Industrial", "Agricultural", "Maritime", "Financial", "Medical",
    "Academic", "Municipal", "Federal", "Cross-Border", "Arctic", "Tropical", "Alpine",
    "Northern", "Southern", "Eastern", "Western", "Small-Scale", "Long-Term", "Emerging",
    "Offshore", "Inland", "Seasonal", "Independent", "Cooperative", "Electric",
    "Autonomous", "Low-Carbon", "High-Speed", "Open-Source", "Community", "Heritage",
    "Mountain", "Desert", "River", "Island", "Border", "Metropolitan", "Continental",
)  # fmt: skip

TAG_SUBJECTS = (
    "Energy", "Ports", "Shipping", "Farming", "Housing", "Transit", "Schools", "Hospitals",
    "Elections", "Courts", "Banks", "Markets", "Fisheries", "Forests", "Rivers", "Tourism",
    "Mining", "Railways", "Aviation", "Startups", "Universities", "Museums", "Wine",
    "Coffee", "Textiles", "Batteries", "Semiconductors", "Satellites", "Vaccines",
    "Pensions", "Taxes", "Tariffs", "Wages", "Unions", "Cybersecurity", "Privacy",
    "Wildfires", "Floods", "Droughts", "Glaciers", "Wetlands", "Wildlife", "Agriculture",
    "Manufacturing", "Retail", "Media", "Broadband", "Water", "Hydrogen", "Nuclear Power",
    "Solar Power", "Wind Power", "Oil", "Natural Gas", "Steel", "Copper", "Lithium",
)  # fmt: skip

ADJECTIVES = (
    "sharp", "steady", "modest", "sudden", "gradual", "record", "uneven", "lasting",
    "unexpected", "significant", "growing", "limited", "broad", "quiet", "costly",
    "temporary", "historic", "renewed", "fragile", "measurable",
)  # fmt: skip

CHANGES = (
    "risen", "fallen", "doubled", "stalled", "recovered", "slowed", "accelerated",
    "shifted", "narrowed", "widened", "improved", "weakened",
)  # fmt: skip

CHANGES_PAST = (
    "Rose", "Fell", "Doubled", "Stalled", "Recovered", "Slowed", "Accelerated", "Shifted",
    "Narrowed", "Widened", "Improved", "Weakened",
)  # fmt: skip

VERBS = (
    "warned", "argued", "announced", "estimated", "reported", "acknowledged", "insisted",
    "predicted", "confirmed", "noted", "suggested", "conceded",
)  # fmt: skip

HEADLINE_VERBS = (
    "Reshapes", "Tests", "Strains", "Lifts", "Squeezes", "Transforms", "Divides",
    "Revives", "Threatens", "Boosts", "Unsettles", "Redraws", "Slows", "Drives",
)  # fmt: skip

HEADLINE_SUBJECTS = (
    "Drought", "Automation", "Inflation", "Heat", "Tighter Regulation", "Rising Demand",
    "A Labor Shortage", "Battery Innovation", "A Trade Dispute", "Record Rainfall",
    "A Price Slump", "A Funding Gap", "High-Speed Rail", "An Aging Workforce",
    "A Housing Boom", "An Export Slump", "A Rate Rise", "A Tech Shift", "Tourism",
    "Coastal Flooding",
)  # fmt: skip

HEADINGS = (
    "What Comes Next?", "A Long Time Coming", "The Cost of Waiting", "Costs and Conflicts",
    "Winners and Losers", "A Question of Scale", "The View From {place}",
    "Pressure on {topic_title}", "Rethinking {topic_title}", "How {topic_title} Changed",
    "A {adj_title} Shift", "The {adj_title} Recovery", "Lessons From {place}",
    "Who Pays?", "Signs of Strain", "Room to Grow", "Old Problems, New Tools",
    "The Numbers Behind It", "A Political Fight", "Looking Ahead",
)  # fmt: skip

SENTENCES = (
    "Officials in {place} said {topic} had {change} over the past {n} years.",
    "{group_cap} in {place} have watched {topic} with {adj} concern since the spring.",
    "According to {institution}, {topic} could see a {adj} change by the end of the decade.",
    "Analysts {verb} that {topic} could affect {group} well beyond {place}.",
    "The shift has been {adj}, and {group} say they were given little time to adapt.",
    "A report published by {institution} found that {topic} had {change} in {n} of the last {m} quarters.",
    "{person} {verb} that the measures would take years to show results.",
    "In {place}, {group} {verb} that {topic} were no longer a distant concern.",
    "Critics say {institution} moved too slowly, while supporters point to a {adj} improvement.",
    "The debate over {topic} has divided {group} and {other_group} alike.",
    "Figures from {institution} suggest a {adj} trend, though the data remain incomplete.",
    "Some {group} have already changed their plans, citing {topic} and {other_topic}.",
    "{person}, who has studied the issue for {n} years, {verb} that the gains were uneven.",
    "Neighboring regions, including {place}, face similar questions about {topic}.",
    "The proposal would set aside new funding for {group} affected by {topic}.",
    "Costs have {change} for {group}, who say the burden falls unevenly.",
    "Few expect a quick resolution, and {institution} has promised a review within {n} months.",
    "The change in {topic} has been {adj} in {place} and more pronounced in smaller towns.",
    "Experts caution that {topic} and {other_topic} are closely linked.",
    "Local businesses in {place} report that {topic} has {change} since last year.",
    "{group_cap} and {other_group} met in {place} this week to discuss {topic}.",
    "A spokesperson for {institution} declined to comment on the timing of new rules.",
    "For many {group}, the question is no longer whether {topic} will change, but how fast.",
    "The numbers hide wide differences between {place} and {other_place}.",
)  # fmt: skip

DEKS = (
    "In {place}, {topic} had {change} by spring, and {group} are adjusting faster than {institution} expected.",
    "After a {adj} year for {topic}, {group} in {place} weigh what comes next.",
    "{group_cap} say {topic} reached a turning point as {institution} prepares new rules.",
    "A {adj} change in {topic} is forcing {group} across {place} to rethink their plans.",
)  # fmt: skip

HEADLINES = (
    "{subject} {hverb} {topic_title} in {place}",
    "{subject} {hverb} {topic_title} Across {place}",
    "{group_title} in {place} Brace for {adj_title} Change in {topic_title}",
    "Why {topic_title} {changepast} in {place}",
    "How {subject} {hverb} {topic_title} for {group_title}",
)  # fmt: skip
