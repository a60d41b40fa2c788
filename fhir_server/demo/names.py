"""Name and place tables for the synthetic district (data only, no logic).

Surname weights follow the rough national frequencies (王, 李, 张 about 7% each); given
names are drawn from common characters.  The place names are invented: 示范省 示范市
宁和区 does not exist, and its GB/T 2260-style code 990102 uses the unallocated
province code 99, so no generated ID number can belong to a real person.
"""

# (surname, weight in ‰ of the population)
SURNAMES = (
    ("王", 72), ("李", 71), ("张", 68), ("刘", 54), ("陈", 45), ("杨", 32), ("黄", 24),
    ("赵", 23), ("吴", 21), ("周", 21), ("徐", 17), ("孙", 15), ("马", 15), ("朱", 14),
    ("胡", 13), ("郭", 13), ("何", 12), ("林", 12), ("高", 12), ("罗", 12), ("郑", 11),
    ("梁", 10), ("谢", 8), ("宋", 8), ("唐", 8), ("许", 7), ("韩", 7), ("冯", 7),
    ("邓", 7), ("曹", 7), ("彭", 6), ("曾", 6), ("肖", 6), ("田", 6), ("董", 5),
    ("袁", 5), ("潘", 5), ("于", 5), ("蒋", 5), ("蔡", 5), ("余", 5), ("杜", 5),
    ("叶", 4), ("程", 4), ("苏", 4), ("魏", 4), ("吕", 4), ("丁", 4), ("任", 4),
    ("沈", 4), ("姚", 4), ("卢", 4), ("姜", 3), ("崔", 3), ("钟", 3), ("谭", 3),
    ("陆", 3), ("汪", 3), ("范", 3), ("金", 3), ("石", 3), ("廖", 3), ("贾", 3),
    ("夏", 3), ("韦", 3), ("方", 3), ("白", 2), ("邹", 2), ("孟", 2), ("熊", 2),
    ("秦", 2), ("邱", 2), ("江", 2), ("尹", 2), ("薛", 2), ("闫", 2), ("段", 2),
    ("雷", 2), ("侯", 2), ("龙", 2), ("史", 2), ("欧阳", 1), ("司马", 1), ("诸葛", 1),
)

MALE_GIVEN = tuple(
    "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林欢阳建国志峰亮成"
    "文斌晨博轩然睿泽子豪铭昊天佳一晓东海德福春荣"
)
FEMALE_GIVEN = tuple(
    "芳娜敏静丽艳娟霞秀玲桂英燕红梅莉兰萍婷雪琳颖倩洁琴云慧佳欣怡涵梓萱雨诗晨思"
    "月馨悦瑶晓春秀凤兰淑珍玉华"
)

STATE, CITY, DISTRICT = "示范省", "示范市", "宁和区"
DISTRICT_CODE = "990102"  # GB/T 2260 style; province 99 is unallocated
POSTAL_PREFIX = "9991"
PHONE_PREFIX = "100"  # 100xxxxxxxx is not an allocated mobile prefix

# 街道 / 乡镇 of the district: (name, urban?)
TOWNSHIPS = (
    ("和平街道", True), ("康宁街道", True), ("长乐镇", False), ("安泰街道", True),
    ("新华街道", True), ("青山镇", False), ("白河乡", False), ("柳溪镇", False),
    ("东湖街道", True), ("西岭乡", False), ("南苑街道", True), ("北坪镇", False),
)
STREETS = ("和平路", "康宁大道", "健康路", "幸福街", "人民路", "建设路", "文化路", "解放路",
           "中山路", "光明街", "团结路", "朝阳路", "迎宾大道", "育才路", "长青街", "东风路")
COMMUNITY_WORDS = ("和平", "康乐", "安居", "兴盛", "翠苑", "锦绣", "阳光", "丰收", "清泉",
                   "桃园", "新村", "石桥", "杨柳", "金盆", "龙潭", "红星")
